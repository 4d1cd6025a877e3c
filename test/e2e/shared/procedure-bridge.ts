// The in-browser side of the engine's browser tests: one bundled script is both the page's
// script and its dedicated worker's. In the page it defines callWorker(op, args) and
// callPage(op, args) for Playwright; in the worker it answers {id, op, args} messages by running
// the named procedure. Each test folder's entry.ts passes its procedures here.

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

const describe = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err));

export function exposeProcedures<P extends Record<string, (args: never) => unknown>>(procedures: P): void {
  type Op = keyof P & string;
  const run = async (op: Op, args: unknown): Promise<unknown> => {
    const fn = procedures[op] as unknown as ((a: unknown) => unknown) | undefined;
    if (!fn) throw new Error(`no procedure ${op}`);
    return fn(args);
  };

  if (typeof window === 'undefined') {
    self.onmessage = (e: MessageEvent<{ id: number; op: Op; args: unknown }>) => {
      const { id, op, args } = e.data;
      run(op, args).then(
        (value) => postMessage({ id, ok: true, value } satisfies Reply),
        (err) => postMessage({ id, ok: false, error: describe(err) } satisfies Reply),
      );
    };
    return;
  }
  let worker: Worker | null = null;
  let nextId = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const script = (document.currentScript as HTMLScriptElement).src;
  (globalThis as any).callWorker = (op: Op, args: unknown) => {
    if (!worker) {
      worker = new Worker(script);
      worker.onmessage = (e: MessageEvent<Reply>) => {
        const p = pending.get(e.data.id);
        pending.delete(e.data.id);
        if (e.data.ok) p?.resolve(e.data.value);
        else p?.reject(new Error(`in the worker: ${e.data.error}`));
      };
      worker.onerror = (e) => pending.forEach((p) => p.reject(new Error(`worker error: ${e.message}`)));
    }
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker!.postMessage({ id, op, args });
    });
  };
  (globalThis as any).callPage = (op: Op, args: unknown) => run(op, args).catch((err) => Promise.reject(new Error(describe(err))));
}
