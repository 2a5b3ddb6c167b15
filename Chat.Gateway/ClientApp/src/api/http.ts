/** An HTTP failure with the server's own words (ProblemDetails `detail`, or the original's `{"detail": …}`). */
export class HttpError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = 'HttpError';
  }
}

export const jsonHeaders = { 'content-type': 'application/json', accept: 'application/json' } as const;

export async function failure(response: Response): Promise<HttpError> {
  let detail = `HTTP ${response.status}`;
  try {
    const body = (await response.json()) as Record<string, unknown>;
    const text = [body.detail, body.title, body.message, body.error].find((v) => typeof v === 'string');
    if (typeof text === 'string') detail = text;
  } catch {
    // not JSON: the status says enough
  }
  return new HttpError(detail, response.status);
}

export async function postJson<T>(url: string, body: unknown, init: RequestInit = {}): Promise<T> {
  const response = await fetch(url, { method: 'POST', headers: jsonHeaders, body: JSON.stringify(body), ...init });
  if (!response.ok) throw await failure(response);
  return (await response.json()) as T;
}
