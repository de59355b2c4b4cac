// Parse iCalendar text (stdin) with Mozilla's ical.js and print JSON of its events.
//
// Usage: node parse_ics.js < calendar.ics
// Output: {"timezones": [tzid...], "events": [{uid, summary, description, location,
//   status, sequence, tzid, rrule, exdates, overrides, occurrences: [{start_local,
//   end_local, start_utc, end_utc, recurrence_id, status}]}]}
// Times are "YYYY-MM-DDTHH:MM:SS" (local to the event's TZID) or with a "Z" (UTC).
// Series are expanded through ical.js's own RRULE/EXDATE/RECURRENCE-ID logic,
// using the VTIMEZONE components in the file, up to 500 dates.
"use strict";

const fs = require("fs");
const path = require("path");
const ICAL = require(path.join(__dirname, "..", "vendor", "ical.js", "ical.es5.cjs"));

const MAX_DATES = 500;

function utc(time) {
  return time.convertToZone(ICAL.Timezone.utcTimezone).toString();
}

function main() {
  const text = fs.readFileSync(0, "utf8");
  const calendar = new ICAL.Component(ICAL.parse(text));
  const timezones = [];
  for (const vtimezone of calendar.getAllSubcomponents("vtimezone")) {
    const zone = new ICAL.Timezone(vtimezone);
    ICAL.TimezoneService.register(zone.tzid, zone);
    timezones.push(zone.tzid);
  }
  // Events sharing a UID: one master, and overrides carrying a RECURRENCE-ID.
  const byUid = new Map();
  for (const vevent of calendar.getAllSubcomponents("vevent")) {
    const uid = vevent.getFirstPropertyValue("uid");
    if (!byUid.has(uid)) byUid.set(uid, { master: null, overrides: [] });
    const entry = byUid.get(uid);
    if (vevent.hasProperty("recurrence-id")) entry.overrides.push(vevent);
    else if (entry.master) throw new Error("two master events share the UID " + uid);
    else entry.master = vevent;
  }
  const events = [];
  for (const [uid, entry] of byUid) {
    if (!entry.master) throw new Error("an override has no master event: " + uid);
    const event = new ICAL.Event(entry.master);
    for (const override of entry.overrides) event.relateException(override);
    const occurrences = [];
    const describe = (details) => ({
      start_local: details.startDate.toString(),
      end_local: details.endDate.toString(),
      start_utc: utc(details.startDate),
      end_utc: utc(details.endDate),
      recurrence_id: details.recurrenceId ? details.recurrenceId.toString() : null,
      status: details.item.component.getFirstPropertyValue("status"),
      summary: details.item.summary,
    });
    if (event.isRecurring()) {
      const iterator = event.iterator();
      let next;
      while ((next = iterator.next()) && occurrences.length < MAX_DATES) {
        occurrences.push(describe(event.getOccurrenceDetails(next)));
      }
    } else {
      occurrences.push(describe({
        startDate: event.startDate, endDate: event.endDate, recurrenceId: null, item: event,
      }));
    }
    const rrule = entry.master.getFirstPropertyValue("rrule");
    const exdates = [];
    for (const property of entry.master.getAllProperties("exdate")) {
      for (const value of property.getValues()) exdates.push(value.toString());
    }
    events.push({
      uid,
      summary: event.summary,
      description: event.description,
      location: event.location,
      status: entry.master.getFirstPropertyValue("status"),
      sequence: event.sequence,
      tzid: event.startDate.zone ? event.startDate.zone.tzid : null,
      rrule: rrule ? rrule.toString() : null,
      exdates,
      overrides: entry.overrides.length,
      occurrences,
    });
  }
  process.stdout.write(JSON.stringify({ timezones, events }));
}

main();
