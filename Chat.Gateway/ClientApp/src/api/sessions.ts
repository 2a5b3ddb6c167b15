// The shared session routes (docs/transports-shared.md), through the REST transport's prefix: every HTTP transport
// serves the same routes on the same store, so which one the page asks does not matter.
import { failure, HttpError, jsonHeaders } from './http.js';

const base = '/rest/sessions';

/** One entry of GET /sessions. Only the keys the page reads (duration_minutes' type is the original's business). */
export interface SessionSummary {
  session_id: string;
  model: string;
  message_count: number;
  created_at: string;
  last_activity: string;
  /** The first user message, shortened; null while the session has none. */
  title: string | null;
}

export interface HistoryEntry {
  index: number;
  role: 'user' | 'model';
  text: string;
  timestamp: string;
  turn_id: string | null;
}

/** GET /sessions/{id}/history: one page, oldest first; next_before is the cursor for the page before it. */
export interface HistoryPage {
  session_id: string;
  total: number;
  messages: HistoryEntry[];
  has_more: boolean;
  next_before: number | null;
}

const path = (id: string) => `${base}/${encodeURIComponent(id)}`;

export const sessions = {
  async list(): Promise<SessionSummary[]> {
    const response = await fetch(base, { headers: jsonHeaders });
    if (!response.ok) throw await failure(response);
    return ((await response.json()) as { sessions: SessionSummary[] }).sessions;
  },

  async create(): Promise<string> {
    const response = await fetch(`${base}/new`, { method: 'POST', headers: jsonHeaders, body: '{}' });
    if (!response.ok) throw await failure(response);
    return ((await response.json()) as { session_id: string }).session_id;
  },

  async clear(id: string): Promise<void> {
    const response = await fetch(`${path(id)}/clear`, { method: 'POST', headers: jsonHeaders });
    if (!response.ok) throw await failure(response);
  },

  /** Deleting a session that is already gone is not an error for the page. */
  async remove(id: string): Promise<void> {
    const response = await fetch(path(id), { method: 'DELETE', headers: jsonHeaders });
    if (!response.ok && response.status !== 404) throw await failure(response);
  },

  /** One page of the conversation, or null when the server does not know the session (404). */
  async history(id: string, options: { limit?: number; before?: number | null } = {}): Promise<HistoryPage | null> {
    const query = new URLSearchParams();
    if (options.limit) query.set('limit', String(options.limit));
    if (options.before != null) query.set('before', String(options.before));
    const search = query.toString();
    const response = await fetch(`${path(id)}/history${search ? `?${search}` : ''}`, { headers: jsonHeaders });
    if (response.status === 404) return null;
    if (!response.ok) throw await failure(response);
    return (await response.json()) as HistoryPage;
  },
};

export { HttpError };
