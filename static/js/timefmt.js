// One way of writing times: the browser's copy of community/timefmt.py, rule for
// rule (tests/test_timefmt.py runs both on one table of cases). The viewer's zone
// and clock come from the page; the browser's own locale decides nothing.
(function (exports) {
  "use strict";

  var DEFAULT_ZONE = "Europe/London";
  var DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December"];
  var partsFormats = {};

  function partsFormat(zone) {
    zone = zone || DEFAULT_ZONE;
    if (!partsFormats[zone]) {
      var options = {year: "numeric", month: "numeric", day: "numeric", hour: "numeric",
                     minute: "numeric", hourCycle: "h23"};
      try {
        partsFormats[zone] = new Intl.DateTimeFormat("en-US", Object.assign({timeZone: zone}, options));
      } catch (e) {  // not a zone this browser knows: as the server does
        partsFormats[zone] = new Intl.DateTimeFormat("en-US", Object.assign({timeZone: DEFAULT_ZONE}, options));
      }
    }
    return partsFormats[zone];
  }

  // The wall-clock fields of a moment in a zone; weekday 0 is Monday, as in Python.
  function local(moment, zone) {
    var fields = {};
    partsFormat(zone).formatToParts(moment).forEach(function (p) { fields[p.type] = p.value; });
    var y = Number(fields.year), m = Number(fields.month), d = Number(fields.day);
    var dayNumber = Date.UTC(y, m - 1, d) / 86400000;
    return {year: y, month: m, day: d, hour: Number(fields.hour) % 24, minute: Number(fields.minute),
            weekday: (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7, dayNumber: dayNumber};
  }

  function clockTime(l, clock) {
    var mm = (l.minute < 10 ? "0" : "") + l.minute;
    if (clock === "12") {
      return (l.hour % 12 || 12) + ":" + mm + " " + (l.hour < 12 ? "am" : "pm");
    }
    return (l.hour < 10 ? "0" : "") + l.hour + ":" + mm;
  }

  function dayOf(l) { return l.day + " " + MONTHS[l.month - 1].slice(0, 3) + " " + l.year; }

  function day(moment, zone) { return dayOf(local(new Date(moment), zone)); }

  function dateTime(moment, zone, clock) {
    var l = local(new Date(moment), zone);
    return dayOf(l) + ", " + clockTime(l, clock);
  }

  function full(moment, zone, clock) {
    var l = local(new Date(moment), zone);
    return DAYS[l.weekday] + " " + l.day + " " + MONTHS[l.month - 1] + " " + l.year + ", " + clockTime(l, clock);
  }

  function relative(moment, zone, clock, now) {
    moment = new Date(moment);
    now = now === undefined ? new Date() : new Date(now);
    var seconds = (now.getTime() - moment.getTime()) / 1000;
    if (seconds < -60) { return dateTime(moment, zone, clock); }
    if (seconds < 60) { return "just now"; }
    if (seconds < 3600) {
      var n = Math.floor(seconds / 60);
      return n + " minute" + (n !== 1 ? "s" : "") + " ago";
    }
    var l = local(moment, zone);
    var days = local(now, zone).dayNumber - l.dayNumber;
    var at = clockTime(l, clock);
    if (days === 0) { return "today at " + at; }
    if (days === 1) { return "yesterday at " + at; }
    if (days < 7) { return DAYS[l.weekday] + " at " + at; }
    return dateTime(moment, zone, clock);
  }

  exports.relative = relative;
  exports.dateTime = dateTime;
  exports.full = full;
  exports.day = day;
  // Calendar day key in the zone, for grouping (chat's day headings).
  exports.dayKey = function (moment, zone) { return String(local(new Date(moment), zone).dayNumber); };
})(typeof module === "object" && module.exports ? module.exports : (window.TimeFormat = {}));
