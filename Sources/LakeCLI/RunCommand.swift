import ArgumentParser
import Foundation
import LakePipeline

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The main job: ingest a folder's catalog, inventory and orders, then print the reports.",
        discussion: """
        Expects product_catalog.json, inventory_updates.csv and orders_stream.jsonl in the folder,
        ingested in that order (orders are validated against the catalog). Running it twice adds
        nothing the second time.
        """)

    @OptionGroup var flags: IngestFlags
    @Option(help: ArgumentHelp("Folder with the source files.", valueName: "DIR"))
    var input = "Evaluation-Files"

    func run() throws {
        let store = try flags.store()
        let dir = URL(fileURLWithPath: input, isDirectory: true)
        let catalog = dir.appendingPathComponent("product_catalog.json").path
        let inventory = dir.appendingPathComponent("inventory_updates.csv").path
        let orders = dir.appendingPathComponent("orders_stream.jsonl").path
        var summaries: [IngestSummary] = []
        summaries.append(try CatalogIngest.run(store, path: catalog))
        summaries.append(try InventoryIngest.run(store, path: inventory))
        let bar = ProgressBar(label: "orders", quiet: flags.quiet || flags.format != .table)
        summaries.append(try OrderIngest.run(store, path: orders, progress: bar.update))
        bar.finish()
        switch flags.format {
        case .json: print(jsonText(summaries))
        default: for s in summaries { print(SummaryText.render(s, format: flags.format)) }
        }
    }
}
