"""Push notifications to sleeping phones, through an outbox (FCM HTTP v1).

``service.notify_users`` queues pushes in the caller's transaction;
``sender`` claims, sends (``fcm``) and records them after commit;
``jobs`` removes old finished items.
"""
