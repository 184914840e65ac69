// A small typed key-value store with expiry and change listeners.

export interface Entry<T> {
  value: T;
  expiresAt: number | null;
}

export type Listener<T> = (key: string, value: T | undefined) => void;

export class Store<T> {
  private entries = new Map<string, Entry<T>>();
  private listeners: Listener<T>[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  set(key: string, value: T, ttlMs?: number): void {
    const expiresAt = ttlMs === undefined ? null : this.now() + ttlMs;
    this.entries.set(key, { value, expiresAt });
    this.notify(key, value);
  }

  get(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) {
      return undefined;
    }
    if (entry.expiresAt !== null && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      this.notify(key, undefined);
      return undefined;
    }
    return entry.value;
  }

  delete(key: string): boolean {
    const existed = this.entries.delete(key);
    if (existed) {
      this.notify(key, undefined);
    }
    return existed;
  }

  keys(): string[] {
    const alive: string[] = [];
    for (const key of this.entries.keys()) {
      if (this.get(key) !== undefined) {
        alive.push(key);
      }
    }
    return alive.sort();
  }

  onChange(listener: Listener<T>): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((other) => other !== listener);
    };
  }

  purge(): number {
    let removed = 0;
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt !== null && entry.expiresAt <= this.now()) {
        this.entries.delete(key);
        removed += 1;
      }
    }
    return removed;
  }

  private notify(key: string, value: T | undefined): void {
    for (const listener of this.listeners) {
      try {
        listener(key, value);
      } catch (error) {
        console.error(`listener failed for ${key}`, error);
      }
    }
  }
}

export function countBy<T>(items: T[], keyOf: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    const key = keyOf(item);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

export async function retry<T>(task: () => Promise<T>, attempts: number): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      return await task();
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

export function chunk<T>(items: T[], size: number): T[][] {
  if (size <= 0) {
    throw new Error("size must be positive");
  }
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) {
    chunks.push(items.slice(start, start + size));
  }
  return chunks;
}
