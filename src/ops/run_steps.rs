//! A run's steps: new, set-dates, confirm, ready, approve, request.
