"""Routing (分配): who is online with free capacity, the queue of conversations waiting for a person, offers."""
