"""SMS providers behind one small protocol: the console (default) and Twilio."""
