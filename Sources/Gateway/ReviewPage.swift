import AccessPolicy
import AuditLog
import Foundation
import Storage
import VangnetCore
import VangnetCrypto

/// The security officer's review page: the chain's verification status, an overview per region
/// of who pulled which purpose when and how much, and a filterable timeline with refusals
/// highlighted. Server-rendered HTML with its CSS inline: no scripts, no external assets, every
/// value escaped.
struct ReviewPage {
    static let pageSize = 50

    let gatewayOIN: OIN
    let policy: Policy
    let now: Date
    let verdict: AuditVerdict
    let auditKeyID: String
    let lastCheckpoint: AuditCheckpoint?
    let overview: (pulls: [PullSummary], refusals: [RegionNumber?: Int])
    /// Per region, month, purpose and reason: requests and people by state.
    let reidentifications: [ReidentificationTally]
    /// The newest refused re-identification requests (at most 1,000), from the audit log.
    let reidentificationRefusals: [AuditEvent]
    /// What regions have not collected within their purposes' working days.
    let overdue: [OverdueCollection]
    let filter: AuditFilter
    let query: [(String, String)]
    let entries: [StoredAuditEntry]

    var html: String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Vangnet audit review</title>
        <style>\(Self.css)</style>
        </head>
        <body>
        <header>
          <h1>Vangnet audit review</h1>
          <p>Gateway \(e(gatewayOIN.value)) · policy <code>\(e(policy.fingerprint))</code> · \(e(Self.time(now)))</p>
        </header>
        <main>
        \(statusSection)
        \(overviewSection)
        \(overdueSection)
        \(reidentificationSection)
        \(timelineSection)
        </main>
        </body>
        </html>
        """
    }

    var statusSection: String {
        let checkpoint =
            lastCheckpoint.map {
                "last signed checkpoint: entry \($0.sequence) at \(e(Self.time(Date(timeIntervalSince1970: Double($0.time) / 1000))))"
            }
            ?? "no signed checkpoint yet"
        switch verdict {
        case .intact(let count, let head, let checkpoints):
            return """
                <section class="status ok" id="chain-status">
                  <h2>Audit chain intact</h2>
                  <p>\(count) entries recomputed; \(checkpoints) signed checkpoint(s) match the chain and verify with audit key <code>\(e(auditKeyID))</code>; head <code>\(Hex.encode(head.prefix(8)))</code>. \(e(checkpoint)).</p>
                </section>
                """
        case .broken(let sequence, let reason):
            return """
                <section class="status broken" id="chain-status">
                  <h2>Audit chain BROKEN at entry \(sequence)</h2>
                  <p>\(e(reason)). Entries from there on cannot be trusted; \(e(checkpoint)).</p>
                </section>
                """
        }
    }

    var overviewSection: String {
        let regions = Set(overview.pulls.map(\.region)).union(overview.refusals.keys.compactMap { $0 }).sorted()
        var rows = ""
        for region in regions {
            let name = policy.region(region)?.name ?? ""
            let pulls = overview.pulls.filter { $0.region == region }
            let refused = overview.refusals[region] ?? 0
            if pulls.isEmpty {
                rows +=
                    "<tr><td>\(region.value) \(e(name))</td><td colspan=\"4\" class=\"muted\">no pulls</td><td class=\"\(refused > 0 ? "refused" : "")\">\(refused)</td></tr>\n"
            }
            for (i, pull) in pulls.enumerated() {
                let consumer = consumerName(pull.consumer)
                rows +=
                    "<tr><td>\(i == 0 ? "\(region.value) \(e(name))" : "")</td><td>\(e(consumer))</td><td>\(e(pull.purpose?.value ?? "-"))</td>"
                rows +=
                    "<td class=\"num\">\(pull.pulls) · last \(e(Self.time(pull.last)))</td><td class=\"num\">\(pull.records)</td>"
                rows +=
                    "<td class=\"num \(i == 0 && refused > 0 ? "refused" : "")\">\(i == 0 ? String(refused) : "")</td></tr>\n"
            }
        }
        let unplaced = overview.refusals[nil] ?? 0
        return """
            <section id="overview">
              <h2>Pulls per region</h2>
              <table>
                <thead><tr><th>Region</th><th>Consumer</th><th>Purpose</th><th>Pulls</th><th>Records received</th><th>Refusals</th></tr></thead>
                <tbody>
            \(rows.isEmpty ? "<tr><td colspan=\"6\" class=\"muted\">No pulls recorded.</td></tr>" : rows)    </tbody>
              </table>
              <p class="muted">Refusals not tied to a region (TLS, identity, pushes): <span class="\(unplaced > 0 ? "refused" : "")">\(unplaced)</span>.</p>
            </section>
            """
    }

    /// Per region and month, how many people were identified and why; and the refused requests by
    /// code, quota refusals first.
    var reidentificationSection: String {
        struct Key: Hashable, Comparable {
            let region: Int, month: Int, purpose: String, reason: String
            static func < (a: Key, b: Key) -> Bool {
                (a.region, -a.month, a.purpose, a.reason) < (b.region, -b.month, b.purpose, b.reason)
            }
        }
        var byKey: [Key: [ReidentificationState: (requests: Int, people: Int)]] = [:]
        for t in reidentifications {
            let key = Key(region: t.region.value, month: t.month, purpose: t.purpose.value, reason: t.reason)
            byKey[key, default: [:]][t.state] = (t.requests, t.people)
        }
        var rows = ""
        for key in byKey.keys.sorted() {
            let states = byKey[key] ?? [:]
            let name = RegionNumber(key.region).flatMap { policy.region($0)?.name } ?? ""
            let cell = { (state: ReidentificationState) -> String in
                guard let n = states[state] else { return "<td class=\"num muted\">0</td>" }
                return "<td class=\"num\">\(n.people) <span class=\"muted\">(\(n.requests))</span></td>"
            }
            rows +=
                "<tr><td>\(key.region) \(e(name))</td><td class=\"nowrap\">\(key.month / 100)-\(String(format: "%02d", key.month % 100))</td>"
            rows += "<td>\(e(key.purpose))</td><td><code>\(e(key.reason))</code></td>"
            rows += ReidentificationState.allCases.map(cell).joined() + "</tr>\n"
        }
        var refused: [String: Int] = [:]
        for event in reidentificationRefusals {
            refused["\(event.region.map { String($0.value) } ?? "-") \(event.reason ?? "-")", default: 0] += 1
        }
        let refusals = refused.sorted { a, b in
            let (qa, qb) = (a.key.hasSuffix("quota_exceeded"), b.key.hasSuffix("quota_exceeded"))
            return qa != qb ? qa : a.key < b.key
        }.map { key, count in
            let parts = key.split(separator: " ", maxSplits: 1)
            return
                "<tr class=\"refused\"><td>\(e(String(parts[0])))</td><td><code>\(e(String(parts.last ?? "")))</code></td><td class=\"num\">\(count)</td></tr>"
        }.joined(separator: "\n")
        let headers = ReidentificationState.allCases.map { "<th>\($0.rawValue)</th>" }.joined()
        return """
            <section id="reidentification">
              <h2>Re-identification</h2>
              <p class="muted">People per region, month, purpose and reason, by state (requests in brackets). Released: the BSNs were sealed to the region's own key.</p>
              <table>
                <thead><tr><th>Region</th><th>Month</th><th>Purpose</th><th>Reason</th>\(headers)</tr></thead>
                <tbody>
            \(rows.isEmpty ? "<tr><td colspan=\"9\" class=\"muted\">No re-identification requests.</td></tr>" : rows)    </tbody>
              </table>
              <table>
                <thead><tr><th>Region</th><th>Refused request</th><th>Times</th></tr></thead>
                <tbody>
            \(refusals.isEmpty ? "<tr><td colspan=\"3\" class=\"muted\">No refused requests.</td></tr>" : refusals)
                </tbody>
              </table>
            </section>
            """
    }

    var overdueSection: String {
        let rows = overdue.map { o -> String in
            let name = policy.region(o.region)?.name ?? ""
            return
                "<tr class=\"refused\"><td>\(o.region.value) \(e(name))</td><td>\(e(o.purpose.value))</td><td class=\"num\">\(o.records)</td><td class=\"nowrap\">before \(e(Self.time(o.dueBefore)))</td></tr>"
        }.joined(separator: "\n")
        return """
            <section id="overdue">
              <h2>Not collected in time</h2>
              <p class="muted">Per region, what a purpose delivered that the region has not pulled within the purpose's working days (collectWithinWorkingDays; the mbo report: five).</p>
              <table>
                <thead><tr><th>Region</th><th>Purpose</th><th>Records</th><th>Delivered</th></tr></thead>
                <tbody>
            \(rows.isEmpty ? "<tr><td colspan=\"4\" class=\"muted\">Every region collected in time.</td></tr>" : rows)
                </tbody>
              </table>
            </section>
            """
    }

    var timelineSection: String {
        func selected(_ a: String?, _ b: String) -> String { a == b ? " selected" : "" }
        let actions = AuditEvent.Action.allCases.map {
            "<option\(selected(filter.action?.rawValue, $0.rawValue))>\(e($0.rawValue))</option>"
        }.joined()
        let outcomes = ["success", "refused", "failed"].map {
            "<option\(selected(filter.outcome?.rawValue, $0))>\($0)</option>"
        }.joined()
        let value = { (name: String) in e(query.first { $0.0 == name }?.1 ?? "") }
        var rows = ""
        for entry in entries {
            let ev = entry.event
            let flagged = ev.outcome != .success
            rows +=
                "<tr class=\"\(flagged ? "refused" : "")\"><td class=\"num\">\(entry.sequence)</td><td class=\"nowrap\">\(e(Self.time(ev.time)))</td>"
            rows +=
                "<td>\(e(ev.actor.map(consumerName) ?? "-"))</td><td class=\"nowrap\">\(e(ev.action.rawValue))</td><td class=\"wrap\">\(breakable(ev.object))</td>"
            rows += "<td>\(e(ev.outcome.rawValue))\(ev.reason.map { " <code>\(e($0))</code>" } ?? "")</td>"
            rows +=
                "<td class=\"wrap\">\(e(ev.counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))</td></tr>\n"
        }
        var more = ""
        if entries.count == Self.pageSize, let last = entries.last {
            let kept =
                query.filter { $0.0 != "before" }.map { "\(Self.urlEncode($0.0))=\(Self.urlEncode($0.1))" } + [
                    "before=\(last.sequence)"
                ]
            more = "<p><a href=\"/review?\(e(kept.joined(separator: "&")))\">Older entries</a></p>"
        }
        return """
            <section id="timeline">
              <h2>Timeline</h2>
              <form method="get" action="/review">
                <label>From <input name="from" value="\(value("from"))" placeholder="2026-11-01"></label>
                <label>To <input name="to" value="\(value("to"))" placeholder="2026-11-30"></label>
                <label>Actor (OIN) <input name="actor" value="\(value("actor"))" size="22"></label>
                <label>Action <select name="action"><option value="">any</option>\(actions)</select></label>
                <label>Region <input name="region" value="\(value("region"))" size="3"></label>
                <label>Outcome <select name="outcome"><option value="">any</option>\(outcomes)</select></label>
                <button type="submit">Filter</button>
              </form>
              <div class="scroll"><table>
                <thead><tr><th>#</th><th>Time (UTC)</th><th>Actor</th><th>Action</th><th>Object</th><th>Outcome</th><th>Counts</th></tr></thead>
                <tbody>
            \(rows.isEmpty ? "<tr><td colspan=\"7\" class=\"muted\">No entries match.</td></tr>" : rows)    </tbody>
              </table></div>
              \(more)
            </section>
            """
    }

    func consumerName(_ oin: OIN) -> String {
        if case .permit(let org) = policy.identify(oin) { return "\(org.name) (\(oin.value))" }
        return oin.value
    }

    /// Escaped text that may wrap after `/` (long objects such as `purpose:x/region:19/policy:...`).
    func breakable(_ text: String) -> String {
        e(text).replacingOccurrences(of: "/", with: "/<wbr>")
    }

    /// HTML-escapes text.
    func e(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func time(_ date: Date) -> String { timeFormatter.string(from: date) }

    /// `2026-11-23 12:00:00` (UTC), made once: the page formats a time per row.
    nonisolated(unsafe) static let timeFormatter: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime]
        return f
    }()

    static func urlEncode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))
            ?? ""
    }

    static let css = """
        :root { color-scheme: light; font-family: system-ui, sans-serif; color: #1b1b1b; }
        body { margin: 0; background: #f4f5f7; }
        header { background: #154273; color: #fff; padding: 1rem 2rem; }
        header h1 { margin: 0 0 .25rem; font-size: 1.5rem; }
        header p { margin: 0; opacity: .85; }
        main { padding: 1rem 2rem 3rem; max-width: 1200px; box-sizing: border-box; }
        section { background: #fff; border-radius: 6px; padding: 1rem 1.25rem; margin: 1rem 0; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
        h2 { font-size: 1.15rem; margin: 0 0 .75rem; }
        .status.ok { border-left: 6px solid #2e7d32; }
        .status.broken { border-left: 6px solid #c62828; background: #fdecea; }
        table { border-collapse: collapse; width: 100%; font-size: .9rem; }
        th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e3e5e8; vertical-align: top; overflow-wrap: break-word; }
        td.nowrap { white-space: nowrap; }
        td.wrap { word-break: break-all; min-width: 8rem; }
        .scroll { overflow-x: auto; }
        th { background: #eef1f5; }
        td.num { text-align: right; white-space: nowrap; }
        tr.refused td, td.refused, span.refused { background: #fdecea; color: #8e1b1b; font-weight: 600; }
        .muted { color: #6b7280; }
        code { font-family: ui-monospace, monospace; font-size: .85em; }
        form { display: flex; flex-wrap: wrap; gap: .5rem 1rem; margin-bottom: .75rem; align-items: end; }
        label { display: flex; flex-direction: column; font-size: .8rem; color: #374151; }
        input, select, button { font: inherit; padding: .25rem .4rem; }
        button { background: #154273; color: #fff; border: 0; border-radius: 4px; padding: .35rem .9rem; }
        """
}
