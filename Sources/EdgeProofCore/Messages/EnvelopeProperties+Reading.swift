extension WorkloadGeoID {
    /// Reads the property value with the strict ``JSONReader``: in enforce mode the gateway compares it
    /// with the signed claims, so it must mean the same to every reader.
    public init(strictJSON value: String) throws(JSONRefusal) {
        self = try JSONReader.read(value.utf8) { reader throws(JSONRefusal) in try WorkloadGeoID(reading: &reader) }
    }

    init(reading reader: inout JSONReader) throws(JSONRefusal) {
        var workloadID: String?
        var location: GeographicRegion?
        var locationType: String?
        var locationQuality: String?
        var clientType: String?
        var members = JSONReader.Members()
        try reader.readObject { reader, key throws(JSONRefusal) in
            if key == "client_workload_id" {
                try members.first(0, key)
                workloadID = try reader.readString()
            } else if key == "client_workload_location" {
                try members.first(1, key)
                location = try GeographicRegion(reading: &reader)
            } else if key == "client_workload_location_type" {
                try members.first(2, key)
                locationType = try reader.readString()
            } else if key == "client_workload_location_quality" {
                try members.first(3, key)
                if try !reader.readNullIfPresent() { locationQuality = try reader.readString() }
            } else if key == "client_type" {
                try members.first(4, key)
                clientType = try reader.readString()
            } else {
                try members.skip(key, in: &reader)
            }
        }
        guard let workloadID else { throw JSONRefusal.missing("client_workload_id") }
        guard let location else { throw JSONRefusal.missing("client_workload_location") }
        guard let locationType else { throw JSONRefusal.missing("client_workload_location_type") }
        guard let clientType else { throw JSONRefusal.missing("client_type") }
        self.clientWorkloadID = workloadID
        self.clientWorkloadLocation = location
        self.clientWorkloadLocationType = locationType
        self.clientWorkloadLocationQuality = locationQuality
        self.clientType = clientType
    }
}
