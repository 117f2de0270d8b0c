import { ComingSoon } from '../../layout/ComingSoon';

export function OverviewPage() {
  return <ComingSoon title="Overview" />;
}
