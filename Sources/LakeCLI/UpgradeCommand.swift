import ArgumentParser
import Foundation
import LakeCatalog

struct UpgradeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade",
        abstract: "Migrate a DuckLake 0.3 catalog (earlier lake builds, DuckDB 1.3/1.4) to DuckLake 1.0 in place.",
        discussion: """
        Writes need a DuckLake 1.0 catalog (the version DuckDB 1.5 and later attach without migration); reads work on 0.3 and 1.0. The upgrade takes an online backup of the catalog next to it (manifest-0.3-backup-<UTC time>.sqlite), then migrates it in one transaction, as DuckDB 1.5's AUTOMATIC_MIGRATION would: no snapshot is added and every snapshot reads as before. A lake already at 1.0 is left alone. A partial backup copy an upgrade killed mid-copy left (.manifest-0.3-backup-<UTC time>.sqlite.partial) is removed by the next lake upgrade (not by --dry-run). To undo, while nothing uses the lake, delete manifest.sqlite-wal and -shm and copy the backup over manifest.sqlite.

        Examples:
          lake upgrade --dry-run        # list the migration's steps; changes nothing
          lake upgrade                  # back up, migrate, print the backup's path
          lake upgrade --lake /srv/lake
          lake upgrade --dry-run --format json
        """)

    @OptionGroup var lake: LakeOptions
    @Flag(help: "Run the migration inside a transaction that is rolled back, and list its steps; no backup, no change.")
    var dryRun = false
    @Option(help: "table, json (one object, its steps an array) or csv (a header and one row, the steps joined by '; ').")
    var format: OutputFormat = .table

    func run() throws {
        let report = try Catalog.upgrade(root: lake.root, dryRun: dryRun)
        let manifest = lake.root.appendingPathComponent(Catalog.manifestName).path
        var result = Records(["catalog", "from_version", "to_version", "dry_run", "already_current", "backup", "steps"])
        result.append([manifest, report.fromVersion, report.toVersion, dryRun, report.alreadyCurrent, report.backup?.path,
                       report.steps.joined(separator: "; ")])
        try printResult(result, lists: ["steps": report.steps], format: format) { printText(report, manifest: manifest) }
    }

    private func printText(_ report: UpgradeReport, manifest: String) {
        if report.alreadyCurrent {
            print("\(manifest) is already a DuckLake \(report.toVersion) catalog; nothing to migrate.")
            for step in report.steps { print("  \(step)") }
            return
        }
        print(dryRun ? "Would upgrade \(manifest) from DuckLake \(report.fromVersion) to \(report.toVersion) (checked, rolled back):"
                     : "Upgraded \(manifest) from DuckLake \(report.fromVersion) to \(report.toVersion):")
        for step in report.steps { print("  \(step)") }
        if let backup = report.backup { print("The 0.3 catalog is kept at \(backup.path).") }
    }
}
