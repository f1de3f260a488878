/** A typed event emitter with unsubscribe handles. */
type Listener<T> = (payload: T) => void;

export class Emitter<Events extends Record<string, unknown>> {
  private listeners: { [K in keyof Events]?: Set<Listener<Events[K]>> } = {};

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const set = (this.listeners[event] ??= new Set());
    set.add(listener);
    return () => set.delete(listener);
  }

  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      listener(payload);
    });
    return off;
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): number {
    const set = this.listeners[event];
    if (!set) return 0;
    for (const listener of [...set]) listener(payload);
    return set.size;
  }

  listenerCount(event: keyof Events): number {
    return this.listeners[event]?.size ?? 0;
  }
}

// usage:
// const bus = new Emitter<{ saved: { id: string }; closed: void }>();
// const off = bus.on('saved', ({ id }) => console.log('saved', id));
