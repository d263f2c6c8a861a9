"""LTI 1.3 platform with LTI Advantage: keys, tool registry, launch, Deep Linking, NRPS, AGS."""
