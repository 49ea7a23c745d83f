// The library product: importing PRPKit gives the whole core (kernels and graph too).
@_exported import PRPKitGraph
