import { ComingSoon } from '../../layout/ComingSoon';

export function SessionsPage() {
  return <ComingSoon title="Sessions" />;
}
