"""What became of an alert, in the store's words and the screen's: one vocabulary for the notifier that sets a
delivery and the pages that show it (pure, so the dashboard may read it without reaching the notifier)."""

INFO_DELIVERY = "info"  # stored and shown, never sent to Discord
DELIVERY_WORDS = {  # each delivery status as the screens say it: only "sent" reached Discord
    "pending": "queued for Discord",
    "sent": "sent to Discord",
    "failed": "not delivered: Discord refused it or could not be reached",
    "collapsed": "not sent: repeats an alert of the same episode",
    "not_sent": "not sent: no webhook set",
    "abandoned": "not sent: left pending by a stop",
    INFO_DELIVERY: "informational: shown here, never sent",
}
