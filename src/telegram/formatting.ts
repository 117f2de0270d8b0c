/**
 * Text as Telegram receives it: `parseMode` markup turned into plain text plus entities, and
 * Telegram's length limit checked the way Telegram counts, before anything is sent.
 */
import type { Api } from 'teleproto';
import { HTMLParser } from 'teleproto/extensions/html.js';
import { MarkdownParser } from 'teleproto/extensions/markdown.js';
import { AppError } from '../lib/errors.js';

export type ParseMode = 'markdown' | 'html';

/** Telegram's limit for one text message, in UTF-16 code units of the text without markup. */
export const MAX_MESSAGE_LENGTH = 4096;

export interface FormattedText {
  message: string;
  entities?: Api.TypeMessageEntity[];
}

export function parseText(text: string, mode?: ParseMode): FormattedText {
  if (mode === 'markdown') {
    const [message, entities] = MarkdownParser.parse(text);
    return { message, entities };
  }
  if (mode === 'html') {
    const [message, entities] = HTMLParser.parse(text);
    return { message, entities };
  }
  return { message: text };
}

/**
 * Parses a message text and refuses what Telegram would refuse (MESSAGE_EMPTY,
 * MESSAGE_TOO_LONG) as a 400 VALIDATION_ERROR naming the field. JavaScript's `length` is the
 * UTF-16 count Telegram uses: an emoji outside the BMP counts 2.
 */
export function formatMessageText(text: string, mode: ParseMode | undefined, field: string): FormattedText {
  const formatted = parseText(text, mode);
  const invalid = (message: string) =>
    new AppError('VALIDATION_ERROR', 'Request validation failed', [{ field, message }]);
  if (!formatted.message.trim())
    throw invalid(mode ? 'The text is empty once formatting is removed' : 'The text is empty');
  if (formatted.message.length > MAX_MESSAGE_LENGTH)
    throw invalid(
      `Telegram allows ${MAX_MESSAGE_LENGTH} UTF-16 code units${mode ? ' once formatting is removed' : ''}; ` +
        `this text has ${formatted.message.length}`,
    );
  return formatted;
}
