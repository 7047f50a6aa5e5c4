/// The registry tables the pipeline itself writes, one spelling each. The registry's API takes
/// a name because a registry may define other tables (named by their folders under schemas/).
public enum RegistryTable {
    public static let rawOrders = "raw_orders"
    public static let orders = "orders"
    public static let orderItems = "order_items"
    public static let products = "products"
    public static let rawProducts = "raw_products"
    public static let inventory = "inventory"
    public static let rawInventory = "raw_inventory"
}
