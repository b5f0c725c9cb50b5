"""Speech pre-analysis: VAD, speech-to-text, distress cues and a live assessment."""
