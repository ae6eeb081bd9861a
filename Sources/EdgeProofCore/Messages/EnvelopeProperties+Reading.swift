import Foundation

extension WorkloadGeoID {
    /// Parses the property value as `JSONDecoder` does: through ``JSONReader`` when it takes the
    /// value (the common case), `JSONDecoder` otherwise. Nil when the value is not of this shape.
    init?(parsing value: String) {
        var value = value
        let read = value.withUTF8 { bytes in
            JSONReader.read(bytes) { reader throws(JSONReader.Unsupported) in try WorkloadGeoID(reading: &reader) }
        }
        guard let geo = read ?? (try? JSONDecoder().decode(WorkloadGeoID.self, from: Data(value.utf8))) else {
            return nil
        }
        self = geo
    }

    /// The same values as the `Decodable` conformance, or ``JSONReader/Unsupported``.
    init(reading reader: inout JSONReader) throws(JSONReader.Unsupported) {
        var workloadID: String?
        var location: GeographicRegion?
        var locationType: String?
        var locationQuality: String?
        var clientType: String?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONReader.Unsupported) in
            if key == "client_workload_id" {
                try members.first(0)
                workloadID = try reader.readString()
            } else if key == "client_workload_location" {
                try members.first(1)
                location = try GeographicRegion(reading: &reader)
            } else if key == "client_workload_location_type" {
                try members.first(2)
                locationType = try reader.readString()
            } else if key == "client_workload_location_quality" {
                try members.first(3)
                if try !reader.readNullIfPresent() { locationQuality = try reader.readString() }
            } else if key == "client_type" {
                try members.first(4)
                clientType = try reader.readString()
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let workloadID, let location, let locationType, let clientType else { throw JSONReader.Unsupported() }
        self.clientWorkloadID = workloadID
        self.clientWorkloadLocation = location
        self.clientWorkloadLocationType = locationType
        self.clientWorkloadLocationQuality = locationQuality
        self.clientType = clientType
    }
}
