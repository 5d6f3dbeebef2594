"""DEMO ONLY: what stands in for real customers and annotators in the embedded loop.

`sample_logs` writes logged transcripts from tau2-bench tasks; `simulated_annotators` answers
the Argilla queue by documented rules plus noise. Real users bring their own logs and their
own annotators; nothing in the library imports these except the demo commands and the eval's
gold judge (the simulated annotators' rules without their noise).
"""
