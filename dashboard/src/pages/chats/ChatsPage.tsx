import { ComingSoon } from '../../layout/ComingSoon';

export function ChatsPage() {
  return <ComingSoon title="Chats" />;
}
