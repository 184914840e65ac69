// Package inventory keeps stock levels for a small shop.
package inventory

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrUnknownItem is returned for a SKU the inventory has never seen.
var ErrUnknownItem = errors.New("unknown item")

// Item is one product line.
type Item struct {
	SKU      string
	Name     string
	Quantity int
	Price    float64
}

// Inventory maps SKUs to items.
type Inventory struct {
	items map[string]*Item
	log   []string
}

// New returns an empty inventory.
func New() *Inventory {
	return &Inventory{items: make(map[string]*Item)}
}

// Add records new stock, creating the item when needed.
func (inv *Inventory) Add(sku, name string, quantity int, price float64) {
	item, ok := inv.items[sku]
	if !ok {
		item = &Item{SKU: sku, Name: name, Price: price}
		inv.items[sku] = item
	}
	item.Quantity += quantity
	inv.log = append(inv.log, fmt.Sprintf("add %s %d", sku, quantity))
}

// Remove takes stock out, failing when there is not enough.
func (inv *Inventory) Remove(sku string, quantity int) error {
	item, ok := inv.items[sku]
	if !ok {
		return ErrUnknownItem
	}
	if item.Quantity < quantity {
		return fmt.Errorf("only %d of %s left", item.Quantity, sku)
	}
	item.Quantity -= quantity
	inv.log = append(inv.log, fmt.Sprintf("remove %s %d", sku, quantity))
	return nil
}

// Value is the total worth of the stock.
func (inv *Inventory) Value() float64 {
	total := 0.0
	for _, item := range inv.items {
		total += float64(item.Quantity) * item.Price
	}
	return total
}

// LowStock lists SKUs with fewer than limit units, sorted.
func (inv *Inventory) LowStock(limit int) []string {
	var low []string
	for sku, item := range inv.items {
		if item.Quantity < limit {
			low = append(low, sku)
		}
	}
	sort.Strings(low)
	return low
}

// Search finds items whose name contains the query, ignoring case.
func (inv *Inventory) Search(query string) []*Item {
	query = strings.ToLower(query)
	var found []*Item
	for _, item := range inv.items {
		if strings.Contains(strings.ToLower(item.Name), query) {
			found = append(found, item)
		}
	}
	sort.Slice(found, func(i, j int) bool {
		return found[i].SKU < found[j].SKU
	})
	return found
}

// Report renders one line per item.
func (inv *Inventory) Report() string {
	var builder strings.Builder
	skus := make([]string, 0, len(inv.items))
	for sku := range inv.items {
		skus = append(skus, sku)
	}
	sort.Strings(skus)
	for _, sku := range skus {
		item := inv.items[sku]
		fmt.Fprintf(&builder, "%s\t%s\t%d\n", item.SKU, item.Name, item.Quantity)
	}
	return builder.String()
}

// Restock tops every item up to at least target units.
func (inv *Inventory) Restock(target int) int {
	added := 0
	for _, item := range inv.items {
		if item.Quantity >= target {
			continue
		}
		added += target - item.Quantity
		item.Quantity = target
	}
	return added
}

// History returns the log lines that mention sku.
func (inv *Inventory) History(sku string) []string {
	var lines []string
	for _, line := range inv.log {
		fields := strings.Fields(line)
		if len(fields) == 3 && fields[1] == sku {
			lines = append(lines, line)
		}
	}
	return lines
}
