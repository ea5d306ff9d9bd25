/**
 * The ids of the last `capacity` rows stored from one log partition, in memory: a copy written by a
 * producer's retry follows its original closely, so it is found here without asking the store.
 */
export class RecentIds {
  private readonly ring: string[];
  private readonly ids = new Set<string>();
  private next = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array<string>(capacity);
  }

  add(id: string): void {
    if (this.ids.has(id)) return;
    const evicted = this.ring[this.next];
    if (evicted !== undefined) this.ids.delete(evicted);
    this.ring[this.next] = id;
    this.next = (this.next + 1) % this.capacity;
    this.ids.add(id);
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  get size(): number {
    return this.ids.size;
  }
}
