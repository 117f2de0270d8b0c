/**
 * multipart/form-data bodies of the media routes: the `file` part is streamed to a staged file
 * while it is hashed (never held in memory), the other parts become the body's fields (numbers
 * and booleans read as such) and are validated by the route's schema like a JSON body.
 */
import type {
  FastifyRequest,
  onErrorHookHandler,
  onResponseHookHandler,
  preValidationHookHandler,
} from 'fastify';
import { AppError } from '../../lib/errors.js';
import type { MultipartFile } from './media-files.js';
import { tooLarge, type UploadStore } from './upload-store.js';

const files = new WeakMap<FastifyRequest, MultipartFile>();

/** The file part of this request, once the body has been read. */
export function multipartFile(request: FastifyRequest): MultipartFile | undefined {
  return files.get(request);
}

const invalid = (field: string, message: string) =>
  new AppError('VALIDATION_ERROR', 'Request validation failed', [{ field, message }]);

/** multipart's own errors, as the envelope's. */
function formError(err: unknown, maxBytes: number): unknown {
  if (err instanceof AppError) return err;
  const code = (err as { code?: string }).code ?? '';
  if (code === 'FST_REQ_FILE_TOO_LARGE') return tooLarge(maxBytes);
  if (code === 'FST_FILES_LIMIT') return invalid('body.file', 'Send one file part, named "file"');
  if (code === 'FST_PARTS_LIMIT' || code === 'FST_FIELDS_LIMIT')
    return invalid('body', 'Too many form fields');
  if (code === 'FST_PROTO_VIOLATION')
    return invalid('body', 'Form field names may not be __proto__ or constructor');
  return new AppError('BAD_REQUEST', `The multipart body could not be read: ${(err as Error).message}`);
}

/** A preValidation hook reading a multipart body into `request.body` and the staged file. */
export function readMultipart(
  store: UploadStore,
  maxBytes: number,
  types: { numbers: ReadonlySet<string>; booleans: ReadonlySet<string> },
): preValidationHookHandler {
  return async (request) => {
    if (!request.isMultipart()) return;
    const fields: Record<string, unknown> = {};
    try {
      const parts = request.parts({
        limits: { fileSize: maxBytes, files: 1, fields: 30, parts: 31, fieldSize: 64 * 1024 },
      });
      for await (const part of parts) {
        if (part.type === 'file') {
          if (part.fieldname !== 'file') {
            part.file.resume();
            throw invalid(`body.${part.fieldname}`, 'The file part must be named "file"');
          }
          const staged = await store.stage(part.file, maxBytes);
          const file: MultipartFile = {
            file: staged,
            ...(part.filename ? { fileName: part.filename } : {}),
            ...(part.mimetype && part.mimetype !== 'application/octet-stream'
              ? { mimeType: part.mimetype }
              : {}),
          };
          files.set(request, file);
          if (part.file.truncated) throw tooLarge(maxBytes);
          continue;
        }
        const name = part.fieldname;
        if (name in fields) throw invalid(`body.${name}`, 'Given more than once');
        const value = String(part.value);
        fields[name] = types.booleans.has(name)
          ? value === 'true'
            ? true
            : value === 'false'
              ? false
              : value
          : types.numbers.has(name) && /^\d{1,10}$/.test(value)
            ? Number(value)
            : value;
      }
    } catch (err) {
      throw formError(err, maxBytes);
    }
    request.body = fields;
  };
}

/**
 * Removes the staged file of a request: as an onError hook before a refusal is sent, and as an
 * onResponse hook after any answer (a send or an upload has used it by then).
 */
export function discardMultipart(store: UploadStore): onResponseHookHandler & onErrorHookHandler {
  return async (request: FastifyRequest) => {
    const file = files.get(request);
    files.delete(request);
    if (file) await store.discard(file.file);
  };
}
