import { ComingSoon } from '../../layout/ComingSoon';

export function SandboxPage() {
  return <ComingSoon title="Sandbox" />;
}
