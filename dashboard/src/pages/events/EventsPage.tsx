import { ComingSoon } from '../../layout/ComingSoon';

export function EventsPage() {
  return <ComingSoon title="Events" />;
}
