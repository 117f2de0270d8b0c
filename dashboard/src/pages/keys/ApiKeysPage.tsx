import { ComingSoon } from '../../layout/ComingSoon';

export function ApiKeysPage() {
  return <ComingSoon title="API keys" />;
}
