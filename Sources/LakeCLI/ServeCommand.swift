import ArgumentParser
import Foundation
import LakeFormat
import LakeCatalog
import LakePipeline
import LakeQuery
import LakeServer

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the reports over HTTP: an authenticated, rate-limited JSON API, Prometheus metrics and the live dashboard.",
        discussion: """
        Endpoints (GET): /api/v1/daily_sales, /api/v1/top_customers, /api/v1/product_metrics, /api/v1/inventory, \
        /api/v1/snapshots, /api/v1/tables, /api/v1/quality, /healthz, /metrics, /openapi.json, / (dashboard). \
        Each answer is computed from one snapshot (header X-Lake-Snapshot) and equals `lake report … --format json`.

          echo "alice:$(lake serve --hash-token "$TOKEN")" > tokens   # or sha256sum
          lake serve --tokens tokens --port 8080
          curl -H "Authorization: Bearer $TOKEN" \\
            'http://127.0.0.1:8080/api/v1/daily_sales?from=2024-01-15&to=2024-01-15'

        Without --tokens the server answers anyone and binds only to loopback. SIGINT or SIGTERM stops it \
        after in-flight requests finish. One JSON line per request goes to standard error.
        """)

    @OptionGroup var lake: LakeOptions
    @OptionGroup var registry: RegistryOptions
    @Option(help: "Address to bind (default 127.0.0.1; a non-loopback address needs --tokens).") var host = "127.0.0.1"
    @Option(help: "Port (0 picks a free one; the chosen port is printed).") var port = 8080
    @Option(help: ArgumentHelp("File of name:sha256-hex lines; requests then need Authorization: Bearer <token>.", valueName: "FILE"))
    var tokens: String?
    @Option(name: .customLong("rate-limit"), help: ArgumentHelp("Requests per second per token (per address without one), e.g. 50/s; 0 turns limiting off.", valueName: "N/s"))
    var rateLimit = "50/s"
    @Option(help: "Requests a client may send at once above the rate.") var burst = 100
    @Option(name: .customLong("idle-timeout"), help: ArgumentHelp("Seconds a connection may take to send a request's headers, or stay idle between requests, before it is closed.", valueName: "SECONDS"))
    var idleTimeout = 30
    @Flag(name: .customLong("open-monitoring"), help: "Answer /healthz and /metrics without a token.") var openMonitoring = false
    @Flag(name: .customLong("open-dashboard"), help: "Answer / and /openapi.json without a token (browsers cannot send one).") var openDashboard = false
    @Option(help: ArgumentHelp("Alert thresholds for /api/v1/quality, /metrics and / (default: <lake>/alerts.json if present, else built-in defaults, as for lake quality).", valueName: "FILE"))
    var config: String?
    @Flag(help: "Print the OpenAPI document and exit.") var openapi = false
    @Option(name: .customLong("hash-token"), help: ArgumentHelp("Print the SHA-256 of TOKEN (the part after name: in the tokens file) and exit.", valueName: "TOKEN"))
    var hashToken: String?

    func validate() throws {
        // NIO takes the port modulo 65536: --port 70000 listened on 4464.
        guard (0 ... 65535).contains(port) else { throw ValidationError("--port \(port): expected 0 to 65535 (0 picks a free one)") }
        // A negative burst answered 429 to every request after the first.
        guard burst >= 1 else { throw ValidationError("--burst \(burst): expected at least 1") }
        guard idleTimeout >= 1 else { throw ValidationError("--idle-timeout \(idleTimeout): expected at least 1 second") }
        // Named before the lake is opened, in the system's words.
        if let tokens {
            let fd = open(tokens, O_RDONLY)
            let e = errno
            guard fd >= 0 else {
                throw ValidationError("--tokens \(tokens): \(errnoText(e)) (a file of name:sha256-hex lines; `lake serve --hash-token TOKEN` prints a token's hash)")
            }
            close(fd)
        }
    }

    func run() throws {
        if openapi { print(OpenAPI.document, terminator: ""); return }
        if let hashToken { print(TokenStore.digestHex(hashToken)); return }
        var c = ServerConfiguration()
        c.host = host
        c.port = port
        c.tokens = try tokens.map { try TokenStore.load(path: $0) }
        let rateText = rateLimit.hasSuffix("/s") ? String(rateLimit.dropLast(2)) : rateLimit
        guard let rate = Double(rateText), rate >= 0 else { throw ValidationError("--rate-limit \(rateLimit): expected a number of requests per second, e.g. 50/s") }
        c.rate = rate > 0 ? rate : nil
        c.burst = burst
        c.idleTimeout = idleTimeout
        c.openMonitoring = openMonitoring
        c.openDashboard = openDashboard
        // The rule every other command follows, so /api/v1/quality answers what `lake quality
        // report` prints; it read config/alerts.json in the working directory until session 20.
        let quality = try QualityConfig.resolve(explicit: config, lake: lake.root)
        let catalog = try Catalog.open(root: lake.root, catalog: lake.catalogLocation, create: false, readOnly: true)
        // The same channels `lake report --channel` accepts.
        let channels = try LakeStore.registry(registry.source, catalog: catalog).orderChannels()
        let api = LakeAPI(catalog: catalog, quality: quality, channels: channels)
        let host = self.host
        try LakeServer.runBlocking(api: api, config: c) { port in
            // The first line on stdout: scripts and tests read the port from it.
            // Written unbuffered: a pipe reader would otherwise wait for a buffer to fill.
            StandardStream.write("lake serve: listening on http://\(host):\(port)\n", to: StandardStream.output)
        }
    }
}
