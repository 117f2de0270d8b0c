/**
 * ffmpeg and ffprobe from the system (FFMPEG_PATH, FFPROBE_PATH): what a file holds (duration,
 * size of the picture), voice notes made into OGG/Opus with their waveform, and videos made into
 * the square MP4 of round video notes. Every run has a time limit; a missing binary is a clear
 * 503 FFMPEG_UNAVAILABLE for conversions, while sends without conversion only lose the duration.
 */
import { spawn } from 'node:child_process';
import { AppError } from '../../lib/errors.js';

export interface ProbeResult {
  /** Seconds. */
  duration?: number;
  width?: number;
  height?: number;
  hasAudio: boolean;
  hasVideo: boolean;
  /** Tags of an audio file. */
  title?: string;
  artist?: string;
}

export interface MediaToolsOptions {
  ffmpegPath: string;
  ffprobePath: string;
  /** Longest one conversion may run. */
  timeoutMs?: number;
}

/** Telegram shows round videos up to 640 px; 384 px is what its own apps record. */
const ROUND_VIDEO_SIZE = 384;
/** Telegram's longest video note. */
const ROUND_VIDEO_MAX_SECONDS = 60;
/** A voice waveform is 100 values of 5 bits (as Telegram's apps draw it). */
const WAVEFORM_POINTS = 100;
const PCM_RATE = 8000;

class ToolMissing extends Error {}

export class MediaTools {
  constructor(private readonly opts: MediaToolsOptions) {}

  /** Duration and picture size; undefined when ffprobe is missing or cannot read the file. */
  async probe(path: string): Promise<ProbeResult | undefined> {
    let out: Buffer;
    try {
      out = await this.run(
        this.opts.ffprobePath,
        ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', path],
        30_000,
      );
    } catch {
      return undefined;
    }
    const info = JSON.parse(out.toString('utf8')) as {
      format?: { duration?: string; tags?: Record<string, string> };
      streams?: { codec_type?: string; width?: number; height?: number; duration?: string }[];
    };
    const streams = info.streams ?? [];
    const video = streams.find((s) => s.codec_type === 'video');
    const duration = Number(info.format?.duration ?? video?.duration);
    const tags = Object.fromEntries(
      Object.entries(info.format?.tags ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    );
    return {
      ...(tags.title ? { title: tags.title } : {}),
      ...(tags.artist ? { artist: tags.artist } : {}),
      ...(Number.isFinite(duration) ? { duration } : {}),
      ...(video?.width ? { width: video.width, height: video.height } : {}),
      hasAudio: streams.some((s) => s.codec_type === 'audio'),
      hasVideo: Boolean(video),
    };
  }

  /** Any audio (or a video's sound) as a mono OGG/Opus voice note. */
  async toVoice(input: string, output: string): Promise<void> {
    await this.convert([
      '-i',
      input,
      '-vn',
      '-ac',
      '1',
      '-ar',
      '48000',
      '-c:a',
      'libopus',
      '-b:a',
      '32k',
      '-application',
      'voip',
      '-f',
      'ogg',
      output,
    ]);
  }

  /** Any video as a round video note: the centre square, 384 px, at most 60 s, H.264 + AAC. */
  async toRoundVideo(input: string, output: string): Promise<void> {
    const side = ROUND_VIDEO_SIZE;
    await this.convert([
      '-i',
      input,
      '-t',
      String(ROUND_VIDEO_MAX_SECONDS),
      '-vf',
      `crop='min(iw,ih)':'min(iw,ih)',scale=${side}:${side},setsar=1`,
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-crf',
      '26',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      '-b:a',
      '64k',
      '-movflags',
      '+faststart',
      '-f',
      'mp4',
      output,
    ]);
  }

  /**
   * The waveform Telegram draws for a voice note: 100 peaks scaled to 0-31, packed 5 bits each,
   * least significant bit first (as Telegram's apps encode documentAttributeAudio.waveform).
   * Undefined when ffmpeg is missing or cannot decode the file.
   */
  async waveform(path: string, durationSeconds: number | undefined): Promise<Buffer | undefined> {
    if (!durationSeconds || durationSeconds <= 0) return undefined;
    // Peaks are taken as the PCM streams by: nothing of the file is held in memory.
    const perPoint = Math.max(1, Math.ceil((durationSeconds * PCM_RATE) / WAVEFORM_POINTS));
    const peaks = new Array<number>(WAVEFORM_POINTS).fill(0);
    let sample = 0;
    let carry: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      const data = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      const whole = data.length - (data.length % 2);
      for (let at = 0; at < whole; at += 2, sample++) {
        const point = Math.min(WAVEFORM_POINTS - 1, Math.floor(sample / perPoint));
        const value = Math.abs(data.readInt16LE(at));
        if (value > peaks[point]!) peaks[point] = value;
      }
      carry = data.subarray(whole);
    };
    try {
      await this.run(
        this.opts.ffmpegPath,
        ['-v', 'error', '-i', path, '-vn', '-ac', '1', '-ar', String(PCM_RATE), '-f', 's16le', '-'],
        60_000,
        onData,
      );
    } catch {
      return undefined;
    }
    if (sample === 0) return undefined;
    const top = Math.max(...peaks, 1);
    return packWaveform(peaks.map((p) => Math.min(31, Math.round((p / top) * 31))));
  }

  private async convert(args: string[]): Promise<void> {
    try {
      await this.run(this.opts.ffmpegPath, ['-v', 'error', '-y', ...args], this.opts.timeoutMs ?? 300_000);
    } catch (err) {
      if (err instanceof ToolMissing)
        throw new AppError(
          'FFMPEG_UNAVAILABLE',
          `Converting media needs ffmpeg, which was not found (FFMPEG_PATH=${this.opts.ffmpegPath})`,
        );
      throw new AppError('VALIDATION_ERROR', 'ffmpeg could not convert this file', [
        { field: 'body.convert', message: (err as Error).message.slice(0, 300) },
      ]);
    }
  }

  /** Runs a tool; its standard output is collected (up to 16 MiB), or handed to `onData`. */
  private run(
    command: string,
    args: string[],
    timeoutMs: number,
    onData?: (chunk: Buffer) => void,
  ): Promise<Buffer> {
    const maxOutput = 16 * 1024 * 1024;
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let outSize = 0;
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => {
        if (onData) return onData(chunk);
        if (outSize >= maxOutput) return;
        out.push(chunk);
        outSize += chunk.length;
      });
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < 4096) stderr += chunk.toString('utf8');
      });
      child.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(err.code === 'ENOENT' || err.code === 'EACCES' ? new ToolMissing(command) : err);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(Buffer.concat(out).subarray(0, maxOutput));
        else
          reject(
            new Error(
              signal
                ? `stopped after ${timeoutMs} ms`
                : stderr.trim().split('\n').slice(-2).join(' ') || `exit ${code}`,
            ),
          );
      });
    });
  }
}

/** 5-bit values packed least significant bit first into ceil(5n / 8) bytes. */
export function packWaveform(values: number[]): Buffer {
  const out = Buffer.alloc(Math.ceil((values.length * 5) / 8));
  values.forEach((value, i) => {
    const bit = i * 5;
    const word = (value & 0x1f) << (bit % 8);
    out[bit >> 3] |= word & 0xff;
    if ((bit >> 3) + 1 < out.length) out[(bit >> 3) + 1] |= word >> 8;
  });
  return out;
}
