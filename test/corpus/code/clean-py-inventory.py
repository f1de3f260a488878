"""Stock keeping for the small-parts store."""
from dataclasses import dataclass, field


@dataclass
class Item:
    sku: str
    name: str
    quantity: int = 0
    reorder_level: int = 5


@dataclass
class Inventory:
    items: dict = field(default_factory=dict)

    def add(self, item):
        if item.sku in self.items:
            raise KeyError(f"duplicate sku {item.sku}")
        self.items[item.sku] = item

    def receive(self, sku, count):
        if count <= 0:
            raise ValueError("count must be positive")
        self.items[sku].quantity += count

    def ship(self, sku, count):
        item = self.items[sku]
        if count > item.quantity:
            raise ValueError(f"only {item.quantity} of {sku} in stock")
        item.quantity -= count

    def to_reorder(self):
        """Items at or below their reorder level, lowest stock first."""
        low = [i for i in self.items.values() if i.quantity <= i.reorder_level]
        return sorted(low, key=lambda i: (i.quantity, i.sku))


def test_ship_and_reorder():
    inv = Inventory()
    inv.add(Item("B-12", "bolt", quantity=10))
    inv.add(Item("N-3", "nut", quantity=2))
    inv.ship("B-12", 6)
    assert inv.items["B-12"].quantity == 4
    assert [i.sku for i in inv.to_reorder()] == ["N-3", "B-12"]
