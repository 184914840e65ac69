// A small inventory module, typed back by the typing simulation.
export interface Item {
  sku: string;
  name: string;
  quantity: number;
  priceCents: number;
}

export class Inventory {
  private readonly items = new Map<string, Item>();

  add(item: Item): void {
    const existing = this.items.get(item.sku);
    if (existing) {
      existing.quantity += item.quantity;
      return;
    }
    this.items.set(item.sku, { ...item });
  }

  remove(sku: string, quantity: number): boolean {
    const item = this.items.get(sku);
    if (!item || item.quantity < quantity) {
      return false;
    }
    item.quantity -= quantity;
    if (item.quantity === 0) {
      this.items.delete(sku);
    }
    return true;
  }

  totalValueCents(): number {
    let total = 0;
    for (const item of this.items.values()) {
      total += item.quantity * item.priceCents;
    }
    return total;
  }

  lowStock(threshold: number): Item[] {
    return [...this.items.values()]
      .filter((item) => item.quantity <= threshold)
      .sort((a, b) => a.quantity - b.quantity);
  }
}

export function formatPrice(cents: number): string {
  const dollars = Math.floor(cents / 100);
  const rest = String(cents % 100).padStart(2, "0");
  return `$${dollars}.${rest}`;
}
