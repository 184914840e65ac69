/**
 * Debounce for automatic inline completion requests.
 *
 * VS Code asks for a suggestion on every keystroke and cancels the previous
 * request's token when it asks again, so waiting on the token is enough to
 * drop the requests a fast typist would make stale: only the last one of a
 * burst reaches the server.
 */

/** The part of a cancellation token the debounce needs (VS Code's or vscode-jsonrpc's). */
export interface TokenLike {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => unknown): { dispose(): unknown };
}

/** Waits `ms` milliseconds; false as soon as `token` is cancelled (true if it never is). */
export function waitUnlessCancelled(ms: number, token: TokenLike): Promise<boolean> {
  if (token.isCancellationRequested) {
    return Promise.resolve(false);
  }
  if (ms <= 0) {
    return Promise.resolve(true);
  }
  return new Promise<boolean>((resolve) => {
    const subscription = token.onCancellationRequested(() => {
      clearTimeout(timer);
      subscription.dispose();
      resolve(false);
    });
    const timer = setTimeout(() => {
      subscription.dispose();
      resolve(!token.isCancellationRequested);
    }, ms);
  });
}
