/**
 * Request and response shapes of the upload and media-sending routes. Multipart bodies carry the
 * same fields as form fields plus a `file` part; they are described in the OpenAPI document next
 * to the JSON ones (`multipartDocs`), so Swagger UI can send a file.
 */
import { z } from 'zod';
import { isoDate } from '../../lib/schemas.js';
import { chatIdSchema, messageIdSchema } from '../messages/messages.schema.js';
import { sessionIdSchema } from '../sessions/sessions.schema.js';
import { MEDIA_KINDS } from '../../lib/telegram-views.js';

const kind = z.enum(MEDIA_KINDS).meta({
  description:
    'photo (JPEG/PNG/WebP, 10 MB), video, document (sent as a file), audio, voice (OGG/Opus; convert: true makes it), ' +
    'video_note (a round video; convert: true makes one), animation (GIF or silent MP4), sticker (WebP, TGS or WebM)',
});
const uploadId = z.string().min(1).max(100).meta({ description: 'An id from POST /api/v1/uploads' });
const url = z
  .string()
  .min(1)
  .max(2048)
  .meta({ description: 'An http(s) URL TeleFlow downloads (public addresses only, size and time limited)' });
const base64 = z.string().min(1).meta({
  description:
    'The file itself, base64 (a data: URL works too); the body limit is MEDIA_JSON_BODY_LIMIT_BYTES',
});
const fileName = z.string().trim().min(1).max(255);
const mimeType = z
  .string()
  .trim()
  .regex(/^[\w.+-]+\/[\w.+-]+$/, 'a MIME type such as image/png')
  .meta({ description: 'Used when the bytes do not tell the type (the bytes win otherwise)' });
const captionText = z.string().max(16_384).meta({
  description: 'Telegram allows 1024 characters once parseMode markup is removed (4096 with Premium)',
});
const parseMode = z.enum(['markdown', 'html']).optional();

/** Where the file comes from (exactly one of uploadId, url, base64), what it is called, its caption. */
const fileFields = {
  uploadId: uploadId.optional(),
  url: url.optional(),
  base64: base64.optional(),
  fileName: fileName.optional(),
  mimeType: mimeType.optional(),
  caption: captionText.optional(),
};

export const sendMediaBody = z.strictObject({
  sessionId: sessionIdSchema,
  chatId: chatIdSchema,
  kind,
  ...fileFields,
  parseMode,
  replyToMessageId: messageIdSchema.optional(),
  silent: z.boolean().optional(),
  convert: z.boolean().optional().meta({
    description: 'voice: any audio to OGG/Opus; video_note: any video to a square MP4 (ffmpeg)',
  }),
  title: z.string().max(256).optional().meta({ description: 'audio: the title shown (else its tags)' }),
  performer: z
    .string()
    .max(256)
    .optional()
    .meta({ description: 'audio: the performer shown (else its tags)' }),
});

export const albumItem = z.strictObject({
  kind: z.enum(['photo', 'video', 'document']),
  ...fileFields,
});

export const sendAlbumBody = z.strictObject({
  sessionId: sessionIdSchema,
  chatId: chatIdSchema,
  items: z.array(albumItem).min(2).max(10).meta({
    description:
      '2-10 items, each with exactly one of uploadId, url, base64: photos and videos, or documents only',
  }),
  parseMode: parseMode.meta({ description: 'How the captions are written' }),
  replyToMessageId: messageIdSchema.optional(),
  silent: z.boolean().optional(),
});

/** JSON uploads: `{url}` or `{base64, fileName, mimeType?}`. */
export const uploadBody = z.strictObject({
  url: url.optional(),
  base64: base64.optional(),
  fileName: fileName.optional().meta({ description: 'Required with base64' }),
  mimeType: mimeType.optional(),
});

export const uploadObject = z
  .object({
    uploadId: z.string(),
    sha256: z
      .string()
      .meta({ description: 'SHA-256 of the bytes (hex): the same bytes give the same value' }),
    size: z.number().int(),
    mimeType: z.string(),
    fileName: z.string(),
    expiresAt: isoDate,
  })
  .meta({ id: 'Upload' });

export const uploadIdParams = z.object({ id: z.string().min(1).max(100) });

/** Form fields that are not strings in JSON, so multipart values are read as such. */
export const MULTIPART_NUMBERS = new Set(['replyToMessageId']);
export const MULTIPART_BOOLEANS = new Set(['silent', 'convert']);

type JsonSchema = Record<string, unknown>;

/**
 * The `requestBody` of a route taking JSON and multipart/form-data: the JSON schema as it is,
 * and the same fields as form fields plus a binary `file` part (`sources` are the JSON-only ways
 * of giving the file, left out of the form).
 */
export function multipartDocs(schema: z.ZodObject, sources: string[], fileDescription: string): JsonSchema {
  const json = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' }) as JsonSchema;
  delete json.$schema;
  const properties = { ...(json.properties as Record<string, JsonSchema>) };
  for (const s of sources) delete properties[s];
  const required = ((json.required as string[] | undefined) ?? []).filter((r) => !sources.includes(r));
  const form: JsonSchema = {
    type: 'object',
    properties: {
      ...properties,
      file: { type: 'string', format: 'binary', description: fileDescription },
    },
    required: [...required, 'file'],
  };
  return {
    content: {
      'application/json': { schema: json },
      'multipart/form-data': { schema: form },
    },
  };
}
