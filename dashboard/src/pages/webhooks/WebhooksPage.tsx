import { ComingSoon } from '../../layout/ComingSoon';

export function WebhooksPage() {
  return <ComingSoon title="Webhooks" />;
}
