import ArgumentParser
import Foundation
import Gateway

struct PullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Pull your region's records for a purpose (NDJSON by default, CSV on request).",
        discussion: "Prints the records to standard output and the cursor to continue from to standard error."
    )

    @OptionGroup var client: ClientOptions
    @Option(help: "Purpose id, for example vsv-opvolging.") var purpose: String
    @Option(help: "Continue after this cursor (from Vangnet-Next-Cursor or a record's cursor).") var after = "0.0.0"
    @Option(help: "Records per page.") var limit = 1000
    @Option(help: "ndjson or csv.") var format = "ndjson"
    @Flag(help: "Follow the cursor until no records remain.") var all = false

    func run() async throws {
        let http = try client.client()
        var cursor = after
        do {
            repeat {
                let answer = try await http.pull(purpose: purpose, after: cursor, limit: limit, format: format)
                if let refusal = answer.refusal { throw CommandFailure("refused: \(refusal)") }
                print(answer.body, terminator: "")
                let next = answer.headers["vangnet-next-cursor"] ?? cursor
                if next == cursor { break }
                cursor = next
            } while all
            FileHandle.standardError.write(Data("next cursor: \(cursor)\n".utf8))
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }
}
