"""Help-centre articles: accounts and membership."""

from __future__ import annotations

from apps.support.datagen.kbsrc import Src

CATEGORY = "accounts"
ARTICLES = [
    Src("create-an-account", "Creating an account", ["accounts", "sign up", "registration"],
        """
An account lets you track orders, start returns, save addresses and earn loyalty points.

## Sign up
1. Select **Sign in > Create account** at the top of any page.
2. Enter your name, email and a password of at least 10 characters.
3. Confirm your email with the link we send. The link is valid for 24 hours.

## Already ordered as a guest?
Use the same email to sign up, then link earlier orders with **Account > Orders > Link a guest order**.

New accounts get a {welcome_pct}% welcome code (WELCOME10) for their first order.
""", ["how do i make an account", "sign up for an account on your site"]),
    Src("reset-your-password", "Resetting your password", ["accounts", "password", "sign in"],
        """
## Reset it
1. Select **Sign in > Forgot password**.
2. Enter the email on your account.
3. Open the email from {website} and select **Reset password**. The link expires after
   **{reset_minutes} minutes** and can be used once.
4. Choose a new password of at least 10 characters that you haven't used here before.

## No email arrived?
- Check spam and *Promotions* folders; the email can take up to 5 minutes.
- Make sure you used the email on your account; an unknown email gets no message, for privacy.
- Ask for a new link: older links stop working as soon as a new one is sent.

Our support team can send the reset link for you, but we will never ask for your password or set one
for you.
""", ["forgot my password", "password reset link says expired", "how do i change my password"]),
    Src("account-locked", "My account is locked", ["accounts", "locked", "sign in", "security"],
        """
After **{lockout_attempts} failed sign-in attempts**, we lock the account for **{lockout_minutes} minutes**
to protect it from password guessing.

## What to do
1. Wait {lockout_minutes} minutes, then try again, or
2. Reset your password right away with **Forgot password**; a successful reset unlocks the account.

## Locked again and again?
Someone else may be trying to sign in to your account. Reset your password, turn on two-step
verification, and contact us if you see orders or changes you don't recognise.
## Can support unlock it?
Yes, after confirming it's your account, but resetting the password yourself is usually faster.
""", ["account locked after too many tries", "it says my account is temporarily locked, how long"]),
    Src("change-email-address", "Changing the email on your account", ["accounts", "email", "profile"],
        """
1. Sign in and go to **Account > Profile**.
2. Select **Edit** next to your email and enter the new address.
3. Confirm with your password.
4. Open the confirmation link we send to the **new** address. We also notify the old address.

Until you confirm, sign-ins and emails use the old address. Orders already placed keep sending updates
to the email they were placed with.

## Lost access to your old email?
Contact support from the new address. To protect the account we verify your identity with recent order
details before changing the email.
""", ["how to update my email address", "i don't use that email anymore, can you change it"]),
    Src("two-step-verification", "Two-step verification", ["accounts", "security", "2fa"],
        """
Two-step verification adds a one-time code to your sign-in.

## Turn it on
1. Go to **Account > Security > Two-step verification**.
2. Choose **Text message** or **Authenticator app**.
3. Enter the code we send or the app shows, and save your backup codes somewhere safe.

## Lost your phone?
Use a backup code to sign in, then set up the new phone. Without backup codes, contact support; after we
verify your identity, we remove two-step verification so you can set it up again. This can take up to 2
business days for your security.
""", ["how do i set up 2 factor", "new phone, can't get my login code"]),
    Src("manage-addresses", "Managing saved addresses", ["accounts", "address book", "shipping"],
        """
Save up to 10 addresses under **Account > Addresses** and choose one at checkout.

## Add or edit
1. Go to **Account > Addresses**.
2. Select **Add address** or **Edit** next to an existing one.
3. Tick **Default** to preselect it at checkout.

## Things to know
- Changing a saved address doesn't change orders you've already placed; see *Changing the shipping
  address on an order*.
- We check addresses against postal records and may suggest a correction.
- PO boxes can only be used with standard shipping.
""", ["update my default shipping address", "i moved, how do i change my address"]),
    Src("membership-tiers", "Membership tiers: Standard, Plus and Premier", ["accounts", "membership", "tiers", "loyalty"],
        """
Every account earns loyalty points and moves up tiers based on spending in a calendar year.

| Tier | Yearly spend | Benefits |
|---|---|---|
| Standard | - | {points_per_dollar} point per $1, birthday reward |
| Plus | ${plus_spend} or more | {plus_points} points per $1, early access to sales, birthday reward |
| Premier | ${premier_spend} or more | {premier_points} points per $1, free standard shipping on every order, {premier_return_days}-day returns |

## How tiers are set
Tiers are reviewed every January based on the previous calendar year, and you move up as soon as you
reach the threshold during the year. Returned and cancelled orders don't count toward your spend.

Your tier is shown under **Account > Membership**.
## Points and rewards
Points turn into rewards: every {points_block} points is a ${points_value} reward you can use at checkout.
See *Loyalty points* for how points are earned and when they expire.

## Premier perks in practice
- Free standard shipping applies automatically at checkout, with no minimum spend.
- The {premier_return_days}-day return window applies to orders delivered while you hold Premier status.
- Premier members get a dedicated phone line, shown under **Account > Membership**.

## Dropping a tier
If your yearly spend falls below a tier's threshold, you keep the tier until the next January review.
""", ["what are the membership levels", "how do i become premier", "benefits of plus tier"]),
    Src("notification-preferences", "Choosing how we contact you", ["accounts", "notifications", "contact preferences"],
        """
Go to **Account > Notifications** to choose how we reach you about orders and support requests:
**email**, **text message (SMS)**, **phone** or **chat**.

## Order updates
Shipping and delivery updates go to your preferred channel. Order confirmations and receipts are always
emailed as well.

## Marketing
Marketing emails are separate: turn them off at any time in the same page or with the unsubscribe link.
Turning off marketing never stops order or support messages.

Our support team can change your preferred contact method for you in chat.
""", ["i want texts instead of emails for shipping updates", "change my contact preference to phone"]),
    Src("saved-payment-methods", "Saving and removing cards", ["accounts", "payments", "wallet"],
        """
## Save a card
Tick **Save for next time** at checkout, or add one under **Account > Wallet > Add card**.

## Remove a card
Go to **Account > Wallet**, select the card and choose **Remove**. Removing a card doesn't affect orders
already placed with it, and refunds still go back to it.

## Default card
Select **Make default** to preselect the card at checkout.
## Expired cards
When a saved card expires, it's marked **Expired** in the wallet and can't be chosen at checkout. Add the
new card and remove the old one. Your bank usually forwards refunds for the old card to the new one.

## Security
Saved cards are stored by our payment provider; we only keep the brand, the last four digits and the expiry
date. Support can't see or read out your full card number.
""", ["how do i delete my old card from my account"]),
    Src("close-your-account", "Closing your account", ["accounts", "close account", "privacy"],
        """
You can close your account at any time.

## Before you close it
- Finish any open returns and spend store credit or gift card balances saved to the account: they are lost
  when the account closes.
- Download invoices you may need.

## How
1. Go to **Account > Privacy > Close account**, or ask our support team.
2. Confirm with your password.
3. The account is closed immediately and personal data is deleted within **{data_days} days**, except
   order records we must keep for {retention_years} years for tax purposes.

A closed account can't be reopened; you can create a new one with the same email later.
""", ["delete my account please", "how do i close my harbor and pine account"]),
    Src("merge-accounts", "I have two accounts", ["accounts", "merge", "duplicate account"],
        """
We can't merge two accounts, but we can move your order history.

1. Decide which account to keep and sign in to it.
2. Contact support from the email of the account you keep and give us the email of the other one.
3. We verify both emails and move orders, loyalty points and store credit to the kept account.
4. The other account is then closed.

Saved cards and addresses are not moved for security; add them again in the kept account.
""", ["i accidentally made 2 accounts can you combine them"]),
    Src("sign-in-problems", "Trouble signing in", ["accounts", "sign in", "troubleshooting"],
        """
1. **Check the email.** Use the address you signed up with; orders as a guest don't create an account.
2. **Reset the password** with **Forgot password**. The link works for {reset_minutes} minutes.
3. **Locked?** After {lockout_attempts} failed attempts, wait {lockout_minutes} minutes or reset the
   password.
4. **App issues:** update the app, or sign in on {website} in a browser to see if the problem is the app.
5. **Cookies:** the website needs cookies to keep you signed in; allow them for {website}.

If none of this works, contact us from the email on your account.
""", ["cant log in to my account", "login page just reloads, what's wrong"]),
    Src("update-name-and-phone", "Updating your name or phone number", ["accounts", "profile", "phone"],
        """
Go to **Account > Profile** to update your name and phone number.

- **Phone number:** used for delivery texts from carriers and for two-step verification by text. We send
  a code to confirm a new number.
- **Name:** shown on orders and invoices from now on. Invoices already issued keep the old name.

Support can't change the phone number used for two-step verification without verifying your identity.
## Name on a shipped order
We can't change the recipient name on a parcel that has already shipped, but carriers deliver to the
address; the name doesn't need to match exactly.

## Legal name changes
If your name changed, update it in your profile and, for invoices that need the new name, contact us with
the order numbers.
""", ["change the phone number on my account"]),
    Src("loyalty-points", "Loyalty points", ["accounts", "loyalty", "points", "rewards"],
        """
## Earning
You earn **{points_per_dollar} point for every $1** spent on products (more in the Plus and Premier
tiers). Points are added when an order is delivered, and removed if the items are returned.

## Redeeming
Every **{points_block} points** can be turned into a **${points_value}** reward at checkout. Rewards can be
combined with a promo code.

## Expiry
Points expire after {points_expiry_months} months without any purchase on the account.

Your balance is under **Account > Membership**.
## Missing points
Points for an order appear the day after it's delivered. If they're missing after 3 days, contact us with
the order number and we'll add them. Points can't be added to orders placed as a guest before you created
your account, unless you link the guest order first.
""", ["how many points do i need for a reward", "when do loyalty points expire"]),
]  # fmt: skip
