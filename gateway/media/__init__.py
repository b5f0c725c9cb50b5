"""PCM helpers shared by the voice channel, speech analysis and recording."""
