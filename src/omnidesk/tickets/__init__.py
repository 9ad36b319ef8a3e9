"""Tickets (工单): types with templates, lifecycle, SLA clocks on business hours, automations and approvals."""
