import type { SessionView } from './sessions.schema.js';

export interface SessionsService {
  list(scope: string[] | null): Promise<SessionView[]>;
  get(id: string): Promise<SessionView>;
  create(input: { phone: string; name?: string }): Promise<SessionView>;
  verifyCode(id: string, code: string): Promise<SessionView>;
  verifyPassword(id: string, password: string): Promise<SessionView>;
  startQrLogin(input: { name?: string }): Promise<{
    session: SessionView;
    qr: { url: string; dataUrl: string; expiresAt: string };
  }>;
  currentQr(id: string): Promise<{ url: string; dataUrl: string; expiresAt: string }>;
  importSession(input: { sessionString: string; name?: string }): Promise<SessionView>;
  exportSession(id: string): Promise<{ sessionString: string }>;
  remove(id: string): Promise<void>;
  connect(id: string): Promise<SessionView>;
  disconnect(id: string): Promise<SessionView>;
}
