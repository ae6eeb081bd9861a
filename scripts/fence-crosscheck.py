#!/usr/bin/env python3
"""Independent check of EdgeProof's fence decisions (Core/Geography/Geofence.swift).

Reads JSON from stdin: {"fences": {name: GeoJSON geometry}, "cases": [[fence, lat, lon, radius_m, verdict], ...]}
with verdict "inside" | "crosses" | "outside" as EdgeProof decided. For each case it decides again with
shapely (containment in longitude/latitude, RFC 7946's straight edges) and pyproj (the distance from the
position to the fence's boundary in metres: the boundary densified in longitude/latitude, then projected
into an azimuthal equidistant projection on the WGS 84 ellipsoid centred on the position, where distances
from the centre are true). Prints one JSON object: agreements, tolerated disagreements (within the margin
EdgeProof states) and disagreements, each with the case.
"""
import json
import math
import sys

import numpy
import pyproj
import shapely
from shapely.geometry import Point, shape


def margin(lat, radius):
    """EdgeProof's stated relative error bound of its tangent-plane distances (Geofence.swift)."""
    span = radius / 110_000 * 1.01
    farthest = min(89.999999, abs(lat) + span)
    return abs(math.tan(math.radians(farthest))) * radius / 6_300_000 + 1e-3


def main():
    request = json.load(sys.stdin)
    fences = {}
    wrapped = set(request.get("across_antimeridian", []))
    for name, geometry in request["fences"].items():
        geometry = shape(geometry)
        if name in wrapped:
            # Split at the antimeridian (RFC 7946 §3.1.9): joined again east of 180 so that the seam is no edge.
            geometry = shapely.unary_union(
                [shapely.transform(part, lambda xy: xy + [[360, 0]] * (xy[:, :1] < 0)) for part in geometry.geoms])
        fences[name] = geometry
    agreements = 0
    tolerated = []
    disagreements = []
    for case in request["cases"]:
        name, lat, lon, radius, verdict = case
        geometry = fences[name]
        if name in wrapped and lon < 0:
            lon += 360
        if not geometry.contains(Point(lon, lat)):
            truth, distance = "outside", None
        else:
            # Only the boundary near the position matters: clipped to a box well beyond the circle, densified
            # (RFC 7946's straight lines in longitude/latitude, so their projected images are straight to well
            # under a metre), then projected azimuthal-equidistant on WGS 84 around the position, where the
            # distance from the centre is the true one.
            dlat = radius * 1.5 / 110_000 + 0.001
            dlon = dlat / max(math.cos(math.radians(abs(lat) + dlat)), 1e-6)
            near = geometry.boundary.intersection(shapely.box(lon - dlon, lat - dlat, lon + dlon, lat + dlat))
            if near.is_empty:
                distance = math.inf
            else:
                dense = shapely.segmentize(near, max_segment_length=0.0002)
                projection = pyproj.Proj(proj="aeqd", lat_0=lat, lon_0=lon, ellps="WGS84")
                local = shapely.transform(dense, lambda xy: numpy.column_stack(projection(xy[:, 0], xy[:, 1])))
                distance = local.distance(Point(0, 0))
            truth = "inside" if distance >= radius else "crosses"
        if truth == verdict:
            agreements += 1
            continue
        record = {"case": case, "truth": truth, "distance_m": distance}
        if verdict == "crosses" and truth == "inside" and distance < radius * (1 + margin(lat, radius)):
            tolerated.append(record)  # conservative within the stated margin
        elif distance is not None and distance < 0.01:
            tolerated.append(record)  # the centre on an edge: either side
        else:
            disagreements.append(record)
    json.dump({"agreements": agreements, "tolerated": tolerated, "disagreements": disagreements}, sys.stdout)


if __name__ == "__main__":
    main()
