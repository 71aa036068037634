"""Example requests per Bitext intent, written for the support-kb routing benchmark.

They were written from the intent names and the knowledge-base documents only, not from the test
questions (``tests/bench/test_supportkb.py`` checks that none of them occurs among the questions).
"""

from __future__ import annotations

__all__ = ["ROUTER_EXAMPLES"]

ROUTER_EXAMPLES: dict[str, list[str]] = {
    "cancel_order": [
        "I want to cancel the order I placed yesterday",
        "please cancel my purchase",
        "how can I call off an order",
        "stop my order, I don't want it anymore",
    ],
    "change_order": [
        "I need to modify my order",
        "can I add another item to an order I already placed",
        "swap a product in my order for a different one",
        "update the quantity in my purchase",
    ],
    "change_shipping_address": [
        "I moved, update the delivery address on my account",
        "change the address my package ships to",
        "edit my shipping address",
        "the shipping address is wrong, can I fix it",
    ],
    "check_cancellation_fee": [
        "is there a fee if I cancel",
        "how much does it cost to terminate my contract early",
        "will I be charged for cancelling",
        "what's the early termination penalty",
    ],
    "check_invoice": [
        "where can I see my bill",
        "show me the invoice for my last purchase",
        "I want to look at my invoices",
        "find the bill for a purchase I made",
    ],
    "check_payment_methods": [
        "which payment options do you accept",
        "can I pay with a credit card or PayPal",
        "what ways to pay are there",
        "list the accepted forms of payment",
    ],
    "check_refund_policy": [
        "what is your refund policy",
        "in which cases do I get my money back",
        "tell me the rules for reimbursements",
        "am I entitled to a refund under your terms",
    ],
    "complaint": [
        "I want to file a complaint",
        "I'm unhappy with the service and want to complain",
        "how do I lodge a formal grievance",
        "I need to report a bad experience with your company",
    ],
    "contact_customer_service": [
        "how can I reach customer support",
        "what are your customer service hours",
        "give me the support email address",
        "I need the phone number of your service team",
    ],
    "contact_human_agent": [
        "let me talk to a real person",
        "I want to speak with a human agent",
        "connect me to a live representative",
        "transfer me to an operator, not a bot",
    ],
    "create_account": [
        "I want to open a new account",
        "how do I sign up",
        "help me register as a new customer",
        "create a profile for me",
    ],
    "delete_account": [
        "close my account permanently",
        "I want to remove my profile",
        "how do I cancel my membership account",
        "erase my user account",
    ],
    "delivery_options": [
        "what shipping methods do you offer",
        "do you have express delivery",
        "which delivery choices are available",
        "can I pick up my order in a store",
    ],
    "delivery_period": [
        "how long will delivery take",
        "when will my parcel arrive",
        "what's the estimated arrival time of my package",
        "how many days until my shipment gets here",
    ],
    "edit_account": [
        "update the details on my profile",
        "change the personal information in my account",
        "I need to modify my account info",
        "edit my user profile",
    ],
    "get_invoice": [
        "send me a copy of my invoice",
        "I need to download the bill",
        "can you email me the invoice",
        "get me a receipt for my order",
    ],
    "get_refund": [
        "I want my money back",
        "how do I request a refund",
        "please reimburse me for this purchase",
        "I'd like to get refunded",
    ],
    "newsletter_subscription": [
        "sign me up for your newsletter",
        "unsubscribe me from the mailing list",
        "I want to stop receiving promotional emails",
        "how do I subscribe to your updates",
    ],
    "payment_issue": [
        "my payment didn't go through",
        "I was charged twice",
        "there's a problem with paying for my order",
        "the card payment keeps failing",
    ],
    "place_order": [
        "I want to buy some items",
        "how do I make a purchase",
        "help me order a product",
        "I'd like to place an order",
    ],
    "recover_password": [
        "I forgot my password",
        "reset my login password",
        "I can't remember my password, help me get back in",
        "how do I recover access to my account",
    ],
    "registration_problems": [
        "I get an error when I try to sign up",
        "the registration form won't work",
        "I can't finish creating my account",
        "something went wrong while registering",
    ],
    "review": [
        "I want to leave feedback about a product",
        "where can I write a review",
        "I'd like to rate my experience",
        "how do I submit my opinion on your service",
    ],
    "set_up_shipping_address": [
        "add a new shipping address",
        "I want to set up a delivery address",
        "save another address for deliveries",
        "how do I enter a shipping address for the first time",
    ],
    "switch_account": [
        "change to a different account",
        "I want to move from the free plan to the premium account",
        "how do I switch between my profiles",
        "upgrade my account type",
    ],
    "track_order": [
        "where is my order",
        "track my package",
        "what's the status of my purchase",
        "has my order shipped yet",
    ],
    "track_refund": [
        "what's the status of my refund",
        "has my reimbursement been processed",
        "when will I receive the refund I asked for",
        "check on my money back request",
    ],
}
