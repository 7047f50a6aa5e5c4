import ArgumentParser
import Foundation
import LakeFormat
import LakePipeline

/// Runs a batch command's writing steps with `Interruption`'s handlers: a SIGINT/SIGTERM stops
/// them at their next check, so the step fails as before its commit (files deleted, nothing
/// committed) and the command exits 128 + the signal, as a shell reports a process the signal
/// ended, after saying so. A signal that came after the last check (the work completed) ends
/// the process once the steps return, before anything after them (`lake run`'s reports).
func stoppable<T>(_ body: () throws -> T) throws -> T {
    Interruption.install()
    let result: T
    do {
        result = try body()
    } catch {
        if let signal = Interruption.received {
            StandardStream.write("Error: \(error)\n", to: StandardStream.error)
            throw ExitCode(128 + signal)
        }
        Interruption.uninstall()
        throw error
    }
    Interruption.uninstall()
    return result
}
