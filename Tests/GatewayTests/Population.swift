import Records
import VangnetCore

/// The young people of the end-to-end tests. Synthetic BSNs (elfproef-valid), real municipality
/// codes; everyone is 18 on the test clock, so age bounds never decide.
struct Population {
    let utrechtLeavers: [SyntheticRecords.Person]  // region 19, early school leavers: the population
    let utrechtOthers: [SyntheticRecords.Person]  // region 19, not early leavers: outside the population
    let amsterdamLeavers: [SyntheticRecords.Person]  // region 21, early school leavers

    init() {
        var synth = SyntheticRecords(seed: 42)
        func people(_ n: Int, _ codes: [String]) -> [SyntheticRecords.Person] {
            (0..<n).map { i in
                SyntheticRecords.Person(
                    bsn: synth.bsn(),
                    municipality: MunicipalityCode(codes[i % codes.count])!,
                    birthDate: CalendarDate("2008-05-01")!
                )
            }
        }
        utrechtLeavers = people(10, ["GM0344", "GM0355"])
        utrechtOthers = people(4, ["GM0344"])
        amsterdamLeavers = people(8, ["GM0363"])
    }

    var everyone: [SyntheticRecords.Person] { utrechtLeavers + utrechtOthers + amsterdamLeavers }

    static func duo(
        _ p: SyntheticRecords.Person,
        leaver: Bool,
        sort: String = "mbo",
        municipality: String? = nil
    ) -> String {
        #"{"bsn":"\#(p.bsn)","geboortedatum":"\#(p.birthDate)","gemeentecode":"\#(municipality ?? p.municipality.value)","brin":"25LP","onderwijssoort":"\#(sort)","niveau":"2","leerweg":"BOL","inschrijvingsdatum":"2024-08-20","uitschrijvingsdatum":"2025-03-01","diploma":false,"startkwalificatie":\#(!leaver),"vsv":\#(leaver)}"#
    }

    static func uwv(_ p: SyntheticRecords.Person, municipality: String? = nil) -> String {
        #"{"bsn":"\#(p.bsn)","gemeentecode":"\#(municipality ?? p.municipality.value)","periode":"2026-09","soort":"dienstverband","sector":44,"uren_per_week":24,"loonklasse":"1000-2000","startdatum":"2026-06-01"}"#
    }

    /// DUO: everyone (leavers and others), 2 of the Utrecht others in pro (population of kwetsbare-jongeren).
    var duoLines: [String] {
        utrechtLeavers.map { Self.duo($0, leaver: true) }
            + utrechtOthers.enumerated().map { Self.duo($1, leaver: false, sort: $0 < 2 ? "pro" : "vo") }
            + amsterdamLeavers.map { Self.duo($0, leaver: true) }
    }

    /// UWV: 5 Utrecht leavers; 1 Utrecht leaver now registered in Amsterdam (follows the person to
    /// Utrecht); 2 Utrecht residents outside the population (must reach no one); 3 Amsterdam leavers.
    var uwvLines: [String] {
        utrechtLeavers[0..<5].map { Self.uwv($0) }
            + [Self.uwv(utrechtLeavers[5], municipality: "GM0363")]
            + utrechtOthers[0..<2].map { Self.uwv($0) }
            + amsterdamLeavers[0..<3].map { Self.uwv($0) }
    }
}
