"""Reference data every part reads, with no database behind it: the service catalog
(`catalog`), places and how customers write them (`places`), the occupation codes
(`occupations`). The NLU, the actions and the backend import it; it imports only
`bot.text`. Importing it never imports SQLAlchemy or the backend."""
