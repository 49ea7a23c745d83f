"""prpkit: Prototype Relevance Propagation and composite LRP, natively."""
