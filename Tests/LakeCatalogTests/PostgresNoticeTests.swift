import Foundation
import LakeTestSupport
import Testing
@testable import LakeCatalog

/// libpq's default notice processor printed every server notice to stderr, so a server
/// restart (`pg_ctl restart -m immediate`) printed "WARNING:  terminating connection due to
/// immediate shutdown command" before lake's own error about the same failure (session 14 and
/// 15 probes). Notices are kept per connection now: a failing statement's error carries the
/// notice, a statement that succeeds drops it, and nothing reaches stderr.
@Suite(.serialized) struct PostgresNoticeTests {
    /// What `body` wrote to this process's stderr (fd 2), and its result.
    static func capturingStderr<T>(_ body: () throws -> T) throws -> (T, String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("stderr-\(UUID().uuidString)").path
        let fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        try #require(fd >= 0)
        defer { close(fd); unlink(file) }
        fflush(nil)
        let saved = dup(2)
        dup2(fd, 2)
        let result = Result { try body() }
        fflush(nil)
        dup2(saved, 2)
        close(saved)
        return (try result.get(), (try? String(contentsOfFile: file, encoding: .utf8)) ?? "")
    }

    @Test("a WARNING the server sends before an error is in the error's message, not on stderr; one before a success is dropped")
    func noticesComeWithTheError() throws {
        let pg = try PostgresCluster.shared()
        let database = try pg.createDatabase()
        let connection = try PGConnection(conninfo: pg.url(database: database), location: "notice test")
        let (failure, printed) = try Self.capturingStderr { () -> SQLError? in
            do {
                try connection.execute(sql: "DO $$ BEGIN RAISE WARNING 'the disk is slow'; RAISE EXCEPTION 'it failed'; END $$", arguments: [])
                return nil
            } catch let e as SQLError { return e } catch { return nil }
        }
        let e = try #require(failure, "the statement did not fail with an SQLError")
        #expect(e.message.contains("it failed") && e.message.contains("(the server's notice: WARNING: the disk is slow)"), "\(e.message)")
        #expect(printed.isEmpty, "printed to stderr: \(printed)")

        let (_, quiet) = try Self.capturingStderr {
            try connection.execute(sql: "DO $$ BEGIN RAISE WARNING 'only a warning'; END $$", arguments: [])
        }
        #expect(quiet.isEmpty, "printed to stderr: \(quiet)")
        // The dropped notice does not reappear in a later, unrelated error.
        do {
            try connection.execute(sql: "SELECT no_such_column FROM pg_class", arguments: [])
            Issue.record("a bad statement succeeded")
        } catch let e as SQLError {
            #expect(!e.message.contains("only a warning"), "\(e.message)")
        }
    }
}
