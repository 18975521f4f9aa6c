import ArgumentParser
import Foundation
import Gateway

struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Push a sealed envelope to the gateway; prints the signed receipt (JSON).",
        discussion: "Exit status 0 on 201 (committed) and 200 (identical retry); non-zero with the gateway's error code otherwise."
    )

    @OptionGroup var client: ClientOptions
    @Option(help: "Envelope file made by `vangnet seal`.") var envelope: String

    func run() async throws {
        let http = try client.client()
        defer { Task { try? await http.shutdown() } }
        let answer = try await http.push(envelopeFile: URL(fileURLWithPath: envelope))
        try await http.shutdown()
        if let refusal = answer.refusal { throw CommandFailure("refused: \(refusal)") }
        print(answer.body, terminator: "")
    }
}
