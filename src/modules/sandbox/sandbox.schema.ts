import { z } from 'zod';

/** GET /api/v1/sandbox: where the sandbox started by TELEGRAM_SANDBOX=true listens. */
export const sandboxInfo = z
  .object({
    dcs: z
      .array(
        z.object({
          id: z.number().int().meta({ description: 'Data centre id' }),
          host: z.string(),
          port: z.number().int(),
        }),
      )
      .meta({ description: "The sandbox's data centres and their MTProto addresses" }),
    controlUrl: z
      .string()
      .meta({ description: 'Base URL of its control API (GET / there lists the routes)' }),
    publicKeyPem: z.string().meta({ description: 'Its RSA public key, to trust in an MTProto client' }),
  })
  .meta({ id: 'SandboxInfo' });
