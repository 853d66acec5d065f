"""What many tests share: real servers on loopback, a browser, data builders."""
